"""nova-compute for the OpenStack lab (started by `bash scripts/lab up` with the lab's venv).

The lab's own nova-compute and driver (lab_fake.LabFakeDriver, Nova's fake driver made
restartable), with one thing changed: a server snapshot does what a real driver does. Nova's
fake driver only moves the task state and never uploads anything, so the snapshot's image
stays `queued` forever. Here the driver uploads a small disk image to Glance through Nova's
own image API, in the source image's disk format when Glance can check it (qcow2) and raw
otherwise, as the libvirt driver does, and the image becomes `active`.
"""
# Nova's own starter first: it sets up the threading mode before anything else of Nova loads.
from nova.cmd import compute

import io
import struct
import sys

from nova.compute import task_states
from nova import exception
from nova.image import glance
from oslab_shims.nova_fake import LabFakeDriver

# The snapshot's disk: its virtual size and what it holds (the lab boots nothing).
DISK_BYTES = 4096


def qcow2_disk():
    """An empty qcow2 (version 2) disk of DISK_BYTES in four 512-byte clusters: the header,
    the refcount table, its one refcount block and the L1 table."""
    cluster = 512
    header = struct.pack(
        ">4sIQIIQIIQQIIQ",
        b"QFI\xfb", 2,  # magic, version
        0, 0,  # no backing file
        9, DISK_BYTES,  # cluster bits, virtual size
        0,  # no encryption
        1, 3 * cluster,  # L1 table: one entry (no L2 table yet), in cluster 3
        1 * cluster, 1,  # refcount table in cluster 1, one cluster long
        0, 0,  # no internal snapshots
    )
    refcount_table = struct.pack(">Q", 2 * cluster)
    refcounts = struct.pack(">4H", 1, 1, 1, 1)  # the four clusters are in use
    return b"".join(part.ljust(cluster, b"\0")
                    for part in (header, refcount_table, refcounts, b""))


def snapshot(self, context, instance, image_id, update_task_state):
    if instance.uuid not in self.instances:
        raise exception.InstanceNotRunning(instance_id=instance.uuid)
    source = instance.image_meta
    if source.obj_attr_is_set("disk_format") and source.disk_format == "qcow2":
        disk_format, data = "qcow2", qcow2_disk()
    else:
        marker = f"openstack-lab snapshot of {instance.uuid}\n".encode()
        disk_format, data = "raw", marker.ljust(DISK_BYTES, b"\0")
    container_format = (source.container_format
                        if source.obj_attr_is_set("container_format") else "bare")
    update_task_state(task_state=task_states.IMAGE_PENDING_UPLOAD)
    update_task_state(task_state=task_states.IMAGE_UPLOADING,
                      expected_state=task_states.IMAGE_PENDING_UPLOAD)
    metadata = {"disk_format": disk_format, "container_format": container_format}
    glance.API().update(context, image_id, metadata, data=io.BytesIO(data), purge_props=False)


LabFakeDriver.snapshot = snapshot

if __name__ == "__main__":
    sys.exit(compute.main())
