"""Custom objects: classes and functions that configs refer to by name.

A saved config names a class (`"class_name": "MyLayer"`, `"registered_name": "pkg>MyLayer"`);
loading finds it, in order, in the `custom_objects=` argument, in an active
`custom_object_scope`, in the global registry that `register_keras_serializable` fills, and
then among the built-in classes.
"""

from __future__ import annotations

import inspect
import threading

_GLOBAL_CUSTOM_OBJECTS: dict = {}
_GLOBAL_CUSTOM_NAMES: dict = {}
_scopes = threading.local()


def get_custom_objects() -> dict:
    """The global dict of registered custom objects, name -> object. Editing it registers or
    removes objects (prefer `register_keras_serializable`)."""
    return _GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(package="Custom", name=None):
    """Decorator registering a class or function under `"<package>><name>"` (name defaults to
    the object's `__name__`), so saved configs find it without `custom_objects=`."""
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"`package` must be a string without '>'. Received: package={package!r}")

    def decorator(obj):
        obj_name = name if name is not None else getattr(obj, "__name__", None)
        if not obj_name:
            raise ValueError(f"Cannot register {obj!r}: it has no __name__; pass `name=`.")
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(f"Cannot register class {obj_name}: classes decorated with "
                             "`register_keras_serializable` must implement `get_config()`.")
        key = f"{package}>{obj_name}"
        _GLOBAL_CUSTOM_OBJECTS[key] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = key
        return obj

    return decorator


# The applications' own layers are written under Keras's modules for them.
_OWN_APPLICATIONS = "fastkeras.applications."
_KERAS_APPLICATIONS = "keras.src.applications."


def keras_module_and_name(cls) -> tuple:
    """(module, registered_name) as Keras writes them for a class that is not one of the
    built-in layers: a class registered under a Keras package ("keras.distillation>Distiller",
    fastkeras's own) is written as that module with no registered name; a class defined in
    __main__ has no module."""
    if cls.__module__.startswith(_OWN_APPLICATIONS):
        # an application's own layer (ConvNeXt's LayerScale): Keras's module, and the class
        # name as Keras gives an unregistered class
        return _KERAS_APPLICATIONS + cls.__module__[len(_OWN_APPLICATIONS):], cls.__name__
    registered = get_registered_name(cls)
    package, _, _ = registered.partition(">")
    if registered != package and package.split(".")[0] == "keras":
        return package, None
    module = cls.__module__
    return (None if module == "__main__" else module), registered


def object_spec(obj, builtin_module, builtins) -> dict:
    """Keras's `{"module", "class_name", "config", "registered_name"}` for an initializer,
    regularizer, constraint or schedule: a built-in class (`builtins`: its module's classes by
    name) under `builtin_module`, a custom class under its own module and registered name,
    and a plain function by its (registered) name, as Keras writes any function."""
    if not hasattr(obj, "get_config") and callable(obj) and hasattr(obj, "__name__"):
        return {"module": "builtins", "class_name": "function",
                "config": get_registered_name(obj), "registered_name": "function"}
    cls = type(obj)
    if builtins.get(cls.__name__) is cls:
        module, registered = builtin_module, None
    else:
        module, registered = keras_module_and_name(cls)
    return {"module": module, "class_name": cls.__name__, "config": obj.get_config(),
            "registered_name": registered}


def get_registered_name(obj) -> str:
    """`"<package>><name>"` for a registered object, else its `__name__`."""
    if obj in _GLOBAL_CUSTOM_NAMES:
        return _GLOBAL_CUSTOM_NAMES[obj]
    return getattr(obj, "__name__", type(obj).__name__)


class CustomObjectScope:
    """`with custom_object_scope({"MyLayer": MyLayer}): load_model(...)`"""

    def __init__(self, *custom_objects):
        self.custom_objects = {}
        for objects in custom_objects:
            if objects:
                self.custom_objects.update(objects)

    def __enter__(self):
        stack = getattr(_scopes, "stack", None)
        if stack is None:
            stack = _scopes.stack = []
        stack.append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _scopes.stack.pop()


custom_object_scope = CustomObjectScope


def _scoped_objects() -> dict:
    merged = {}
    for objects in getattr(_scopes, "stack", None) or []:
        merged.update(objects)
    return merged


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object a config's name refers to, or None. `name` may be a class name, a function
    name or a registered `"package>name"`."""
    if name is None:
        return None
    for table in (custom_objects or {}, _scoped_objects(), _GLOBAL_CUSTOM_OBJECTS):
        if name in table:
            return table[name]
    # A registered object is also found by its bare name ("MyLayer" for "pkg>MyLayer").
    if isinstance(name, str) and ">" not in name:
        for key, obj in _GLOBAL_CUSTOM_OBJECTS.items():
            if key.split(">", 1)[1] == name:
                return obj
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def lookup(config: dict, custom_objects=None, module_objects=None):
    """The class/function a serialized `{"class_name", "registered_name", ...}` names."""
    for key in (config.get("registered_name"), config.get("class_name")):
        obj = get_registered_object(key, custom_objects, module_objects)
        if obj is not None:
            return obj
    return _application_class(config)


def _application_class(config):
    """A layer class of one of the applications' modules, found by the module a file names
    (Keras's or this library's), which need not have been imported yet."""
    module = config.get("module") or ""
    for prefix in (_KERAS_APPLICATIONS, _OWN_APPLICATIONS):
        if module.startswith(prefix):
            import importlib
            try:
                found = importlib.import_module(_OWN_APPLICATIONS + module[len(prefix):])
            except ImportError:
                return None
            obj = getattr(found, str(config.get("class_name")), None)
            return obj if isinstance(obj, type) else None
    return None


def all_custom_objects(custom_objects=None) -> dict:
    """custom_objects merged over the active scopes (for code that takes a plain dict)."""
    merged = dict(_scoped_objects())
    merged.update(custom_objects or {})
    return merged


# --- safe mode: whether loading may turn stored Python bytecode (a Lambda's lambda) back
# into code. On by default, off inside SafeModeScope(False) (load_model(safe_mode=False)) or
# everywhere after keras.config.enable_unsafe_deserialization().
_unsafe_everywhere = [False]


class SafeModeScope:
    """Within the block, deserialization is safe (True) or may load code (False)."""

    def __init__(self, safe_mode=True):
        self.safe_mode = safe_mode

    def __enter__(self):
        stack = getattr(_scopes, "safe", None)
        if stack is None:
            stack = _scopes.safe = []
        stack.append(self.safe_mode)
        return self

    def __exit__(self, *exc):
        _scopes.safe.pop()
        return False


def in_safe_mode() -> bool:
    stack = getattr(_scopes, "safe", None)
    if stack and stack[-1] is not None:
        return bool(stack[-1])
    return not _unsafe_everywhere[0]


def enable_unsafe_deserialization():
    """Lets every later load turn stored Lambda bytecode back into code (trusted files only)."""
    _unsafe_everywhere[0] = True
