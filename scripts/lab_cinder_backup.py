"""cinder-backup for the OpenStack lab (started by `bash scripts/lab up` with the lab's venv).

Cinder's own backup service and POSIX backup driver, so volume backups, restores into a
volume and volumes made from a backup go through the real Cinder API and services (what
Heat's volume snapshot, `deletion_policy: Snapshot` and stack restore use). The lab's fake
volume driver exports a dummy iSCSI target that no initiator can reach, so the one thing
replaced here is the backup host's attachment of a volume: it gets a small file instead of a
block device (the lab keeps no volume data anyway).
"""
import os
import sys
import tempfile

from cinder.cmd import backup
from cinder.volume import volume_utils

DEVICES = os.environ["LAB_BACKUP_DEVICES"]
DEVICE_BYTES = 1 << 20


class FileConnector:
    """os-brick's connector interface, attaching a fresh file."""

    def connect_volume(self, connection_properties):
        fd, path = tempfile.mkstemp(dir=DEVICES)
        os.ftruncate(fd, DEVICE_BYTES)
        os.close(fd)
        return {"type": "block", "path": path}

    def disconnect_volume(self, connection_properties, device_info, force=False,
                          ignore_errors=False):
        try:
            os.unlink(device_info["path"])
        except FileNotFoundError:
            pass

    def check_valid_device(self, path, *args, **kwargs):
        return os.path.exists(path)


def connector_properties(*args, **kwargs):
    # What the fake volume driver's initialize_connection asks of an iSCSI initiator.
    return {"ip": "127.0.0.1", "host": "lab-volume1", "initiator": "iqn.2026-11.lab:backup",
            "multipath": False, "platform": "x86_64", "os_type": "linux",
            "do_local_attach": False}


volume_utils.brick_get_connector_properties = connector_properties
volume_utils.brick_get_connector = lambda *args, **kwargs: FileConnector()

if __name__ == "__main__":
    os.makedirs(DEVICES, exist_ok=True)
    sys.exit(backup.main())
