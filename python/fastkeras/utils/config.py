"""`keras.utils.Config`: a dict of named settings that also reads and writes as attributes,
can be frozen against changes and dumped to JSON."""

from __future__ import annotations

import copy
import difflib
import json

_FROZEN_MESSAGE = "Cannot mutate attribute(s) because the config is frozen."


class Config:
    """Named values reachable both as `config.name` and `config["name"]`.

        config = Config(learning_rate=0.1, momentum=0.9)
        config.seed = 123            # same as config["seed"] = 123
        config.freeze()              # any further change raises ValueError
        config.to_json()             # '{"learning_rate": 0.1, "momentum": 0.9, "seed": 123}'

    It behaves as a mapping: `keys()`, `values()`, `items()`, `get()`, `pop()`,
    `update()`, `len()`, `in`, `del config[key]`; iterating yields the keys in sorted
    order. `as_dict()` returns a (shallow) copy as a plain dict.
    """

    # Names that are the object's own attributes rather than entries; set at the end of
    # __init__ (None while the instance is being built).
    __attrs__ = None

    def __init__(self, **kwargs):
        self._config = kwargs
        self._frozen = False
        self.__attrs__ = set(dir(self))

    @property
    def frozen(self):
        """Whether the config is frozen (read-only)."""
        return self._frozen

    def freeze(self):
        """Makes the config read-only: setting, updating or deleting an entry raises
        ValueError until `unfreeze()`."""
        self._frozen = True

    def unfreeze(self):
        """Makes a frozen config writable again."""
        self._frozen = False

    def _check_writable(self):
        if self._frozen:
            raise ValueError(_FROZEN_MESSAGE)

    def as_dict(self):
        """A shallow copy of the entries as a plain dict."""
        return copy.copy(self._config)

    def to_json(self):
        """The entries as a JSON string (values must be JSON-serializable)."""
        return json.dumps(self._config)

    def keys(self):
        return self._config.keys()

    def values(self):
        return self._config.values()

    def items(self):
        return self._config.items()

    def get(self, keyname, value=None):
        return self._config.get(keyname, value)

    def pop(self, *args):
        self._check_writable()
        return self._config.pop(*args)

    def update(self, *args, **kwargs):
        self._check_writable()
        return self._config.update(*args, **kwargs)

    def _own(self, name):
        own = object.__getattribute__(self, "__attrs__")
        return own is None or name in own

    def __setattr__(self, name, value):
        if self._own(name):
            object.__setattr__(self, name, value)
            return
        self._check_writable()
        self._config[name] = value

    def __getattr__(self, name):
        # only called for names that normal attribute lookup did not find
        if self._own(name):
            return object.__getattribute__(self, name)
        entries = object.__getattribute__(self, "_config")
        if name in entries:
            return entries[name]
        message = f"Unknown attribute: '{name}'."
        close = difflib.get_close_matches(name, [str(k) for k in entries], n=1, cutoff=0.7)
        if close:
            message += f" Did you mean '{close[0]}'?"
        raise AttributeError(message)

    def __setitem__(self, key, item):
        self._check_writable()
        self._config[key] = item

    def __getitem__(self, key):
        return self._config[key]

    def __delitem__(self, key):
        self._check_writable()
        del self._config[key]

    def __contains__(self, item):
        return item in self._config

    def __iter__(self):
        return iter(sorted(self._config))

    def __len__(self):
        return len(self._config)

    def __repr__(self):
        return f"<Config {self._config}>"
