# Kept for editable installs with --no-build-isolation on older pip/setuptools;
# all metadata lives in setup.cfg.
from setuptools import setup

setup()
