@KILN_MAINTAINER_FUNCTIONS@
# $1 is the number of kiln packages left: 0 on erase, 1 on upgrade (triggers kept).
if [ "$1" -eq 0 ]; then
  kiln_remove_boot_triggers
fi
