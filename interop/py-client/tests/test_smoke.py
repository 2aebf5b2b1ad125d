def test_import():
    import lightspeed_client  # noqa: F401
