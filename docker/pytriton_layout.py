"""Lay the nvidia-pytriton wheel's Triton out like the NGC image (run at image build time).

/opt/tritonserver/bin/tritonserver: a wrapper that puts the wheel's libraries on
LD_LIBRARY_PATH and runs the wheel's server; /opt/tritonserver/backends/python: the Python
backend with the stub for this Python, assembled the way `sketch2idol serve-triton` does it
(sketch2idol/launch/tritonserver.py). Both overlays then run the same command line.

    python docker/pytriton_layout.py [ROOT]     (default /opt/tritonserver; tests use a temp dir)
"""

import sys
from pathlib import Path

from sketch2idol.launch.tritonserver import locate_triton, prepare_backend_directory

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else "/opt/tritonserver")

triton = locate_triton()
prepare_backend_directory(triton, ROOT)
(ROOT / "bin").mkdir(parents=True, exist_ok=True)
(ROOT / "caches").symlink_to(triton.caches_dir)
wrapper = ROOT / "bin" / "tritonserver"
wrapper.write_text(
    "#!/bin/sh\n"
    f'export LD_LIBRARY_PATH="{triton.libs_dir}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"\n'
    f'exec "{triton.server_binary}" "$@"\n')
wrapper.chmod(0o755)
print(f"{wrapper} -> {triton.server_binary}")
