"""Regression guard for the PySide6 pin: 6.12.0 leaks a reference to True on every Signal.emit."""

import sys

from PySide6.QtCore import QObject, Signal


class Emitter(QObject):
    fired = Signal(bool)


def test_emitting_signals_keeps_refcount_of_true(qapp):
    emitter = Emitter()
    count = [0]

    def receive(value):
        count[0] += value is True

    emitter.fired.connect(receive)
    emitter.fired.emit(True)  # the first emit may cache a reference in Qt's signal machinery
    before = sys.getrefcount(True)
    for _ in range(5000):
        emitter.fired.emit(True)
    after = sys.getrefcount(True)
    assert count[0] == 5001
    # on Python 3.11 PySide6 6.12.0 loses one reference per emit, until the interpreter aborts;
    # on 3.12+ True is immortal and its refcount never moves
    assert after == before
