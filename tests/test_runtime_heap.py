from trigger.runtime.heap import keep_heap_warm


def test_keep_heap_warm_sets_glibc_malloc_or_reports_it_could_not() -> None:
    import ctypes

    if hasattr(ctypes.CDLL(None), "mallopt"):  # glibc
        assert keep_heap_warm() is True  # False: a parameter number glibc does not know
    else:
        assert keep_heap_warm() is False
