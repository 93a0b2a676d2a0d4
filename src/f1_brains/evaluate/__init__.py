"""Closed-loop evaluation: a matrix of headless runs (brains x circuits x modes x repeats), each its own ROS
master, resumable; results/aggregate turns it into tables and plots."""
