"""Generated from interop/contract; see scripts/generate.py."""
