"""Threads parked in known Python functions, for the `threads` profile
tests (tests/integration/test_python.sh).

usage: pythreads.py A B   (prints "ready" once every thread is parked)

A threads wait on an Event in waiter_a (Event.wait, Condition.wait, a lock
acquire), B threads sleep in waiter_b (time.sleep); the main thread sleeps
in main_wait. All of them until killed.
"""
import sys
import threading
import time

NA, NB = int(sys.argv[1]), int(sys.argv[2])
ev = threading.Event()
parked = threading.Semaphore(0)


def waiter_a():
    parked.release()
    ev.wait()  # WAIT_A_LINE


def waiter_b():
    parked.release()
    while True:
        time.sleep(3600)  # WAIT_B_LINE


def main_wait():
    while True:
        time.sleep(3600)  # MAIN_LINE


threads = [threading.Thread(target=waiter_a, daemon=True) for _ in range(NA)]
threads += [threading.Thread(target=waiter_b, daemon=True) for _ in range(NB)]
for t in threads:
    t.start()
for _ in threads:
    parked.acquire()
time.sleep(0.3)  # let the last ones reach their wait
print("ready", flush=True)
main_wait()
