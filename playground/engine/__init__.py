"""The deterministic step engine: simulated time, one seed, faults as data.

``simulation`` runs a model; ``history`` seeks and forks; ``commands`` is the fault and
action vocabulary; ``rng`` the seeded streams; ``trace`` the trace's hash and JSON form;
``faults`` the random fault schedules.
"""
