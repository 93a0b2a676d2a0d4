"""Gazebo worlds as CustomRobots ships them: COLLADA meshes, SDF models and worlds, and what we measure from them."""
