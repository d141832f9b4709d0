// placeholder: the services module lands with issue 3
