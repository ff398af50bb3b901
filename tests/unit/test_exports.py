import tocsin


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in vars(tocsin) if not name.startswith("_") or name == "__version__"}
    modules = {name for name in public if type(getattr(tocsin, name)).__name__ == "module"}
    assert set(tocsin.__all__) == public - modules
