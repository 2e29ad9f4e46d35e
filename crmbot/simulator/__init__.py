"""The IM simulator of `crmbot demo` (/dev/simulator): see views.py."""
