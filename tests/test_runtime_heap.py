from trigger.runtime.heap import keep_heap_warm


def test_keep_heap_warm_sets_glibc_malloc_or_reports_it_could_not() -> None:
    import ctypes

    if hasattr(ctypes.CDLL(None), "mallopt"):  # glibc
        assert keep_heap_warm() is True  # False: a parameter number glibc does not know
    else:
        assert keep_heap_warm() is False


def test_freezing_startup_objects_exempts_them_from_collections() -> None:
    import gc

    from trigger.runtime.heap import freeze_startup_objects

    gc.unfreeze()
    try:
        built = [[i] for i in range(20_000)]  # what an actor builds at start and keeps
        frozen = freeze_startup_objects()
        # A full collection during a run no longer walks them (it paused filters 50-60 ms).
        assert frozen >= 20_000 and gc.get_freeze_count() == frozen
        assert built[-1] == [19_999]
    finally:
        gc.unfreeze()  # this is the test process, not an actor: leave it as it was
