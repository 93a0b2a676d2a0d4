"""f1_brains: neural brains for the JdeRobot F1 car with pluggable inference backends."""
