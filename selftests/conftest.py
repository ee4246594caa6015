"""nvx-ft's self-tests never download an interpreter: provisioning with uv
(``nvx_ft.interpreters.provision_with_uv``) is off for this process and every process it
starts (nested nox, the gate). Tests of provisioning turn it back on with a stand-in
``uv`` on PATH (selftests/test_provisioning.py)."""

import os

from nvx_ft.interpreters import PROVISION_ENV

os.environ[PROVISION_ENV] = "off"
