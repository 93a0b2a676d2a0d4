"""FrameClock: when the brain node rehearses the last frame (just before the next is due), and when it does not."""
import numpy as np
import pytest

from f1_brains.core.brain import load_brain
from f1_brains.core.synthetic import road_frames
from f1_brains.errors import BadImage
from f1_brains.ros.frame_clock import FrameClock


def clock_with(arrivals):
    clock = FrameClock()
    for t in arrivals:
        clock.arrived(t)
    return clock


def test_no_warm_up_until_three_intervals_are_seen():
    assert clock_with([0.0, 0.05, 0.10]).warm_up_at(0.002) is None
    assert clock_with([0.0, 0.05, 0.10, 0.15]).warm_up_at(0.002) == pytest.approx(0.198)


def test_the_period_is_the_median_so_one_late_frame_does_not_move_it():
    arrivals = [0.0, 0.05, 0.10, 0.15, 0.25, 0.30, 0.35]   # one frame lost (a 100 ms gap)
    assert clock_with(arrivals).period == pytest.approx(0.05)


def test_a_camera_faster_than_the_minimum_period_gets_no_warm_up():
    assert clock_with(np.arange(10) * 0.004).warm_up_at(0.002) is None   # a lockstep sim answering at once


def test_after_a_late_frame_the_warm_up_comes_before_the_early_one_that_follows():
    clock = clock_with([0.0, 0.05, 0.10, 0.15, 0.21])   # 10 ms late, on a camera whose next frame is at 0.25
    assert clock.warm_up_at(0.002) == pytest.approx(0.21 + 0.048)
    assert clock_with([0.0, 0.05, 0.10, 0.15, 0.21, 0.25]).warm_up_at(0.002) == pytest.approx(0.25 + 0.038)


def test_lead_is_capped_at_half_the_period_and_zero_lead_means_never():
    clock = clock_with(np.arange(6) * 0.02)
    assert clock.warm_up_at(0.5) == pytest.approx(0.10 + 0.01)
    assert clock.warm_up_at(0.0) is None


def test_a_frame_arriving_at_the_same_instant_adds_no_interval():
    assert clock_with([0.0, 0.05, 0.05, 0.10]).period is None   # two intervals, not three (one of them zero)


def test_rehearse_changes_nothing_the_next_step_answers():
    brain = load_brain("pilotnet_onnx")
    first, second = road_frames(2, seed=4)
    expected = brain.step(second)
    brain.rehearse(first)
    again = brain.step(second)
    assert (again.v, again.w) == (expected.v, expected.w)
    with pytest.raises(BadImage):
        brain.rehearse(np.zeros((10, 10, 3), np.uint8))
