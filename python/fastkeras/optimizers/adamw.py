"""AdamW: Adam with decoupled weight decay."""

from __future__ import annotations

from fastkeras.optimizers.adam import Adam


class AdamW(Adam):
    """Adam with decoupled weight decay: before each update every variable (not excluded via
    `exclude_from_weight_decay`) is shrunk by `w -= w * weight_decay * learning_rate`.

    Args:
        learning_rate: float, LearningRateSchedule or zero-argument callable. Defaults to 0.001.
        weight_decay: float. Defaults to 0.004; must not be None.
        beta_1, beta_2, epsilon, amsgrad: as for `Adam`.
        Other arguments: see `Optimizer`.
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-7, amsgrad=False, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99,
                 ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, **kwargs):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: "
                             "weight_decay=None")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, amsgrad=amsgrad, weight_decay=weight_decay,
                         clipnorm=clipnorm, clipvalue=clipvalue, global_clipnorm=global_clipnorm,
                         use_ema=use_ema, ema_momentum=ema_momentum,
                         ema_overwrite_frequency=ema_overwrite_frequency,
                         loss_scale_factor=loss_scale_factor,
                         gradient_accumulation_steps=gradient_accumulation_steps, name=name,
                         **kwargs)
