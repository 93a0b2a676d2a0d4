"""The brain core: model cards, backends, the Brain (card + backend + limits), the explicit brain, command types.
Imports nothing of ROS, the simulator or the results."""
