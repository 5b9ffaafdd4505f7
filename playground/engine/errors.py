"""The errors the engine and the scenario layer raise on purpose.

``ScenarioError`` is bad input from a user (a scenario, a command, a share string): its
message is one clear sentence that names what is wrong, safe to show as it is.
"""


class ScenarioError(ValueError):
    """Input that cannot be accepted; the message says why, in a user's terms."""
