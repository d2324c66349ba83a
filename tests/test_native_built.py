"""The optional C cores are optional only where nothing can compile them: on a machine with a
C compiler (CI's included) an install builds both, so their tests run instead of skipping."""

from __future__ import annotations

import shutil
import sysconfig

from bot.dedup import features
from bot.rules import native


def test_the_c_cores_are_built_where_a_compiler_is() -> None:
    """`pip install -e .` built bot.rules._cmatch and bot.dedup._cdedup if Python's C
    compiler is on this machine."""
    compiler = shutil.which(str(sysconfig.get_config_var("CC") or "cc").split()[0])
    if compiler is not None:
        assert native.AVAILABLE, "bot.rules._cmatch did not build"
        assert features._cdedup is not None, "bot.dedup._cdedup did not build"
