"""Publishing while rospy may be shutting down. A new node of the same name or `rosnode kill` starts shutdown from
another thread, and rospy closes every topic (a pre-shutdown hook) before `is_shutdown()` turns true: in that window
rospy's own guard does not apply and `publish()` raises "publish() to a closed topic" (or, closed mid-call, whatever
the torn-down topic raises)."""
import rospy
import rospy.core


def publish_unless_shut_down(publisher: rospy.Publisher, msg: object) -> bool:
    """Publish ``msg``; False, not an exception, once shutdown has begun (a failure outside shutdown still raises:
    a topic closed while the node runs is a bug). The node's loop then sees shutdown and ends its run properly."""
    try:
        publisher.publish(msg)
    except Exception:
        if not rospy.core.is_shutdown_requested():
            raise
        return False
    return True
