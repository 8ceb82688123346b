#!/bin/sh
# Makes a systemd server boot cleanly in an unprivileged container: units that need hardware,
# kernel mounts or a console have nothing to do here and would only fail.
set -eu
systemctl mask \
  systemd-udevd.service systemd-udevd-kernel.socket systemd-udevd-control.socket \
  systemd-modules-load.service systemd-remount-fs.service systemd-firstboot.service \
  sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount \
  sys-fs-fuse-connections.mount dev-hugepages.mount dev-mqueue.mount \
  getty.target console-getty.service serial-getty@.service \
  systemd-hwdb-update.service apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service 2>/dev/null || true
# Host keys are made per server at first boot, so every testbed has its own to verify.
rm -f /etc/ssh/ssh_host_*
systemctl enable ssh-hostkeys.service
# Ubuntu 24.04 starts sshd by socket activation; Debian by ssh.service. Enabling both would conflict.
if systemctl is-enabled --quiet ssh.socket 2>/dev/null; then :; else systemctl enable ssh.service; fi
mkdir -p /root/.ssh && chmod 700 /root/.ssh
