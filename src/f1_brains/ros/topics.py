"""The Gazebo F1 car's topic names (CustomRobots' f1_renault), the defaults of every node's topic parameters."""

CAMERA_TOPIC = "/F1ROS/cameraL/image_raw"
CMD_VEL_TOPIC = "/F1ROS/cmd_vel"
