"""The embedded F1 simulator without ROS: the car's camera (field and real-mesh renderers), planar kinematics,
runs with laps and end conditions, offline lockstep drives, pictures, benchmarks and fidelity checks. Its ROS
node is ros/sim_node.py."""
