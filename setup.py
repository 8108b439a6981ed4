"""Builds the C++ search tree in ext/ into ``xtra_bench.search._ctree``; metadata lives in setup.cfg."""

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# One entry per compiled module: module name -> its .pyx and the C++ sources it links.
EXTENSIONS = {
    "xtra_bench.search._ctree": ["ext/ctree.pyx", "ext/tree.cpp"],
}
CYTHON_DIRECTIVES = {"language_level": "3", "embedsignature": True, "boundscheck": False, "wraparound": False}


class BuildExt(build_ext):
    """Adds flags per compiler: setuptools ignores flags passed to ``setup()`` itself."""

    def build_extensions(self):
        if self.compiler.compiler_type == "msvc":
            flags, link_flags = ["/O2", "/std:c++17", "/fp:precise"], []
        else:
            # No fused multiply-add: the tree must match its Python reference bit for bit.
            flags = ["-O3", "-std=c++17", "-Wall", "-Wvla", "-Werror=vla", "-ffp-contract=off", "-pthread"]
            link_flags = ["-pthread"]
        for ext in self.extensions:
            ext.extra_compile_args = flags
            ext.extra_link_args = link_flags
        super().build_extensions()


setup(
    ext_modules=cythonize(
        [Extension(name, sources, language="c++", include_dirs=["ext"]) for name, sources in EXTENSIONS.items()],
        compiler_directives=CYTHON_DIRECTIVES,
    ),
    cmdclass={"build_ext": BuildExt},
)
