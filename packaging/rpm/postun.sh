@KILN_MAINTAINER_FUNCTIONS@
# /var/lib/kiln (state and logs kiln wrote at run time) is the user's data: kept.
kiln_daemon_reload
