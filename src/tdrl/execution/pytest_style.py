"""Pytest-style test modules (KodCode) as per-test-function ``script`` jobs.

A ``pytest`` test names one test function of a test module. It runs in the sandbox as a
script: the program's namespace is published as the module ``solution`` (so ``from
solution import f`` and ``import solution`` work unchanged), a small stand-in for the parts
of pytest such modules use is published as ``pytest`` (the sandbox's interpreter has no
site-packages), the module source runs in a copy of the program's namespace (its names do
not leak into the program's), and the one test function is called, once per parameter set
of ``pytest.mark.parametrize``. The test passes on the zygote's per-test record that the
call returned, never on an exit status: ``sys.exit`` inside a test is an error.

The stand-in covers ``raises`` (context manager and call forms, ``match=``), ``approx``
(pytest's default tolerances: 1e-6 relative, 1e-12 absolute), ``mark.parametrize``,
``mark.<anything>`` as a no-op, ``fixture`` (module fixtures, plain or generator, resolved by
argument name), ``skip``/``fail``, and the built-in fixtures ``capsys`` and ``tmp_path``. Any
other fixture is an error naming it. Like every ``script`` test, this runs in the program's
own process, so a hostile program can fake it (``weak_tests`` counts these).
"""

from __future__ import annotations

_SHIM = r"""
import sys as _tdrl_sys, types as _tdrl_types, re as _tdrl_re, os as _tdrl_os
def _tdrl_make_pytest():
    pt = _tdrl_types.ModuleType("pytest")
    class _Raises:
        def __init__(self, exc, match=None):
            self.exc, self.match, self.value = exc, match, None
        def __enter__(self):
            return self
        def __exit__(self, et, ev, tb):
            if et is None:
                raise AssertionError("DID NOT RAISE " + repr(self.exc))
            if not issubclass(et, self.exc):
                return False
            if self.match is not None and not _tdrl_re.search(self.match, str(ev)):
                raise AssertionError("pattern %r not found in %r" % (self.match, str(ev)))
            self.value = ev
            return True
    def raises(exc, *args, match=None, **kwargs):
        ctx = _Raises(exc, match)
        if args:
            with ctx:
                args[0](*args[1:], **kwargs)
            return ctx
        return ctx
    class _Approx:
        def __init__(self, expected, rel=None, abs=None):
            self.expected, self.rel, self.abs = expected, rel, abs
        def _close(self, a, e):
            if isinstance(e, (list, tuple)):
                return isinstance(a, (list, tuple)) and len(a) == len(e) and all(self._close(x, y) for x, y in zip(a, e))
            if isinstance(e, dict):
                return isinstance(a, dict) and a.keys() == e.keys() and all(self._close(a[k], e[k]) for k in e)
            if a == e:
                return True
            try:
                rel = 1e-6 if self.rel is None else self.rel
                return abs(a - e) <= max(rel * abs(e), 1e-12 if self.abs is None else self.abs)
            except TypeError:
                return False
        def __eq__(self, other):
            return self._close(other, self.expected)
        def __repr__(self):
            return "approx(%r)" % (self.expected,)
    def approx(expected, rel=None, abs=None):
        return _Approx(expected, rel, abs)
    class _Mark:
        def parametrize(self, names, values, **kwargs):
            names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
            def deco(fn):
                sets = [v if len(names) > 1 else (v,) for v in values]
                fn._tdrl_params = getattr(fn, "_tdrl_params", []) + [(names, sets)]
                return fn
            return deco
        def __getattr__(self, name):
            def mark(*a, **k):
                if len(a) == 1 and callable(a[0]) and not k:
                    return a[0]
                return lambda fn: fn
            return mark
    class _Skipped(Exception):
        pass
    def fixture(*a, **k):
        def deco(fn):
            fn._tdrl_fixture = True
            return fn
        return deco(a[0]) if len(a) == 1 and callable(a[0]) else deco
    def skip(reason=""):
        raise _Skipped(reason)
    def fail(reason=""):
        raise AssertionError(reason)
    pt.raises, pt.approx, pt.mark, pt.fixture, pt.skip, pt.fail = raises, approx, _Mark(), fixture, skip, fail
    pt.Skipped = _Skipped
    return pt
class _TdrlCapsys:
    class _R:
        def __init__(self, out, err):
            self.out, self.err = out, err
    def __init__(self):
        import io
        self._io = io
        self._out, self._err = io.StringIO(), io.StringIO()
        self._old = (_tdrl_sys.stdout, _tdrl_sys.stderr)
        _tdrl_sys.stdout, _tdrl_sys.stderr = self._out, self._err
    def readouterr(self):
        r = self._R(self._out.getvalue(), self._err.getvalue())
        self._out.seek(0); self._out.truncate(); self._err.seek(0); self._err.truncate()
        return r
    def close(self):
        _tdrl_sys.stdout, _tdrl_sys.stderr = self._old
def _tdrl_run_test(ns, name):
    import inspect, itertools, pathlib, tempfile
    owner, _, method = name.rpartition(".")
    fn = getattr(ns[owner](), method) if owner else ns[name]  # Test* classes: a fresh instance, as pytest makes
    params = getattr(fn, "_tdrl_params", [])
    combos = []
    for choice in itertools.product(*[[(names, values) for values in sets] for names, sets in params]):
        given = {}
        for names, values in choice:
            given.update(zip(names, values))
        combos.append(given)
    for given in combos:
        kwargs, cleanup = dict(given), []
        for arg in inspect.signature(fn).parameters:
            if arg in kwargs:
                continue
            if arg == "capsys":
                cap = _TdrlCapsys(); kwargs[arg] = cap; cleanup.append(cap.close)
            elif arg == "tmp_path":
                kwargs[arg] = pathlib.Path(tempfile.mkdtemp())
            elif callable(ns.get(arg)) and getattr(ns[arg], "_tdrl_fixture", False):
                value = ns[arg]()
                if inspect.isgenerator(value):
                    gen, value = value, next(value)
                    cleanup.append(lambda g=gen: next(g, None))
                kwargs[arg] = value
            else:
                raise LookupError("fixture %r is not supported by tdrl's pytest stand-in" % arg)
        try:
            try:
                fn(**kwargs)
            except _tdrl_sys.modules["pytest"].Skipped:
                pass
        finally:
            for c in reversed(cleanup):
                c()
"""


def pytest_script(module: str, function: str) -> str:
    """The ``script`` source that runs test ``function`` of the test ``module`` (see the module doc)."""
    return (
        _SHIM
        + "_tdrl_sys.modules['pytest'] = _tdrl_make_pytest()\n"
        + "_tdrl_solution = _tdrl_types.ModuleType('solution')\n"
        + "_tdrl_solution.__dict__.update({k: v for k, v in globals().items() if not k.startswith('__')})\n"
        + "_tdrl_sys.modules['solution'] = _tdrl_solution\n"
        + "_tdrl_ns = {k: v for k, v in globals().items() if not k.startswith('_tdrl')}\n"
        + "_tdrl_ns['__name__'] = 'test_solution'\n"
        + f"exec(compile({module!r}, '<test module>', 'exec'), _tdrl_ns)\n"
        + f"_tdrl_run_test(_tdrl_ns, {function!r})\n"
    )
