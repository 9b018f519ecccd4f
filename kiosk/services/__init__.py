"""The imperative shell: turns device, HTTP and timer happenings into flow events and carries
out the reducer's commands."""
