# Shared by the deb prerm and the rpm %preun (inlined into both at build time by
# cmake/packaging.cmake): when kiln is removed (not upgraded), nothing may be left that
# starts it at boot. That is the packaged unit if an administrator enabled it, and the
# triggers `kiln run --reboot-mode system` arms (agent/sys/reboot.cpp): a unit
# kiln-resume-<hash>.service with its multi-user.target.wants link in /etc/systemd/system,
# or /etc/cron.d/kiln-resume-<hash>. Their executions' state in /var/lib/kiln stays.
kiln_remove_boot_triggers() {
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable kiln-resume.service >/dev/null 2>&1 || true
  fi
  rm -f /etc/systemd/system/*.wants/kiln-resume.service \
        /etc/systemd/system/*.wants/kiln-resume-*.service \
        /etc/systemd/system/kiln-resume-*.service \
        /etc/cron.d/kiln-resume-*
}
kiln_daemon_reload() {
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl daemon-reload >/dev/null 2>&1 || true
  fi
}
