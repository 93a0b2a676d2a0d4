"""ROS at the edge: the brain node and its lap recorder, the simulator node (Gazebo's F1 topics), the camera
player, and the BehaviorMetrics adapter. The only folder that imports rospy."""
