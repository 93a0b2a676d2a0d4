"""What a run is worth: lap statistics (laps), the run files the brain node writes (run_file), the report of
runs and the aggregate of an evaluation matrix. No ROS: Gazebo runs and embedded runs are measured alike."""
