"""The embedded F1 simulator: circuits, renderer, kinematics, and the ROS node speaking Gazebo's topics."""
