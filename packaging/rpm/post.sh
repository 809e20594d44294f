@KILN_MAINTAINER_FUNCTIONS@
# The unit is a template: installed, never enabled or started by the package.
kiln_daemon_reload
