"""Qt-free application logic shared by the tray app and tests.

Settings, the keychain, the job controller, the transfer book and the wizard
steps live here so they can be tested without Qt; ``openmsi_gui.ui`` only
renders them.
"""
