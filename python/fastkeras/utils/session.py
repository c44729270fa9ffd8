"""`clear_session()`: start auto-naming afresh, as Keras's does."""


def clear_session(free_memory: bool = True) -> None:
    """Resets the counters behind automatic names, so the next `Dense()` is 'dense' again, the
    next `ops.add` node 'add', the next `Adam()` 'adam' and the next `metrics.Mean()` 'mean'.
    Models, optimizers and metrics already made keep their names."""
    from fastkeras.layers.layer import reset_names
    from fastkeras.metrics.base import reset_name_uids
    from fastkeras.optimizers.base_optimizer import reset_names as reset_optimizer_names
    reset_names()
    reset_optimizer_names()
    reset_name_uids()
