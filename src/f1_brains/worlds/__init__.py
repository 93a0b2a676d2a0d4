"""The real worlds: CustomRobots' Gazebo worlds read (COLLADA/OBJ meshes, SDF models and worlds) and measured, the
named circuits measured from them (circuit_data/), and the Track geometry every lap is measured against."""
