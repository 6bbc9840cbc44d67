; OpenMSI GUI: per-user Windows installer (no administrator rights needed).
;
; Wraps PyInstaller's one-folder output (dist\openmsi-gui\: openmsi-gui.exe, openmsi.exe,
; _internal\). Build from the repository root:
;
;   makensis -V2 -WX /DPAYLOAD=<abs path>\dist\openmsi-gui /DVERSION=1.2.3 ^
;            /DOUTFILE=<abs path>\dist\OpenMSI-GUI-1.2.3-setup.exe installer\windows\openmsi-gui.nsi
;
; makensis changes into this folder first, so pass absolute paths. Optional defines:
;   ICON=<.ico>            installer/uninstaller icon (default: resources\icons\openmsi.ico)
;   LICENSE_FILE=<file>    licence page and LICENSE.txt (default: the repository's LICENSE)
;   NOTICES_FILE=<file>    THIRD_PARTY_NOTICES.md (default: the repository's)
;
; Start on login is the same registry value openmsi_gui/platform/autostart.py writes, so the
; app's own setting and this installer's checkbox agree. The uninstaller always removes it;
; it deletes settings and history only when "Also delete my settings" is ticked (never in a
; silent uninstall: that section is off by default).

Unicode true
SetCompressor /SOLID lzma
ManifestDPIAware true
RequestExecutionLevel user

!ifndef PAYLOAD
  !error "Pass /DPAYLOAD=<path to PyInstaller's dist\openmsi-gui folder>"
!endif
!ifndef VERSION
  !define VERSION "0.0.0"
!endif
!ifndef OUTFILE
  !define OUTFILE "OpenMSI-GUI-${VERSION}-setup.exe"
!endif
!ifndef LICENSE_FILE
  !define LICENSE_FILE "..\..\LICENSE"
!endif
!ifndef NOTICES_FILE
  !define NOTICES_FILE "..\..\THIRD_PARTY_NOTICES.md"
!endif
!ifndef ICON
  !define ICON "..\..\resources\icons\openmsi.ico"
!endif

!define APPNAME "OpenMSI GUI"
!define EXE "openmsi-gui.exe"
!define CLI_EXE "openmsi.exe"
!define PUBLISHER "OpenMSI"
!define URL "https://github.com/openmsi"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\OpenMSI GUI"
!define SHORTCUT "$SMPROGRAMS\${APPNAME}.lnk"

!include "MUI2.nsh"
!include "LogicLib.nsh"

Name "${APPNAME}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${APPNAME}"
InstallDirRegKey HKCU "${UNINST_KEY}" "InstallLocation"
BrandingText "${APPNAME} ${VERSION}"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_NODESC

; The GPL needs no acceptance to use the program: a plain "Next" button.
!define MUI_LICENSEPAGE_BUTTON "$(^NextBtn)"
!define MUI_LICENSEPAGE_TEXT_BOTTOM "${APPNAME} is free software: you may use it without \
  accepting this licence, which grants the right to copy, change and share it."
!define MUI_FINISHPAGE_RUN "$INSTDIR\${EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "Start ${APPNAME} now"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_LICENSE "${LICENSE_FILE}"
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"

; Windows refuses to overwrite or delete a running .exe: ask the user to quit the app first.
; (A silent run gives up at once rather than hang.)
!macro WAIT_UNTIL_NOT_RUNNING
  ${If} ${FileExists} "$INSTDIR\${EXE}"
    ${Do}
      ClearErrors
      FileOpen $0 "$INSTDIR\${EXE}" a
      ${IfNot} ${Errors}
        FileClose $0
        ${Break}
      ${EndIf}
      MessageBox MB_RETRYCANCEL|MB_ICONEXCLAMATION \
        "${APPNAME} is running. Choose Quit in its tray menu, then click Retry." \
        /SD IDCANCEL IDRETRY +2
      Abort
    ${Loop}
  ${EndIf}
!macroend

Section "${APPNAME} (required)" SecMain
  SectionIn RO
  !insertmacro WAIT_UNTIL_NOT_RUNNING

  SetOutPath "$INSTDIR"
  ; An upgrade replaces the bundled libraries wholesale; stale ones would shadow new ones.
  RMDir /r "$INSTDIR\_internal"
  File /r "${PAYLOAD}\*.*"
  File "/oname=LICENSE.txt" "${LICENSE_FILE}"
  File "/oname=THIRD_PARTY_NOTICES.md" "${NOTICES_FILE}"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "${SHORTCUT}" "$INSTDIR\${EXE}" "" "$INSTDIR\${EXE}" 0

  ; Start on login is decided afresh by SecAutostart below.
  DeleteRegValue HKCU "${RUN_KEY}" "${APPNAME}"

  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "${APPNAME}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINST_KEY}" "URLInfoAbout" "${URL}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\${EXE},0"
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1
  SectionGetSize ${SecMain} $0
  WriteRegDWORD HKCU "${UNINST_KEY}" "EstimatedSize" $0
SectionEnd

Section "Start ${APPNAME} when I log in" SecAutostart
  WriteRegStr HKCU "${RUN_KEY}" "${APPNAME}" '"$INSTDIR\${EXE}" --minimized'
SectionEnd

Section "un.${APPNAME}" UnSecMain
  SectionIn RO
  !insertmacro WAIT_UNTIL_NOT_RUNNING

  DeleteRegValue HKCU "${RUN_KEY}" "${APPNAME}"
  Delete "${SHORTCUT}"

  ; Only what the installer put there: $INSTDIR may be a folder the user chose.
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${EXE}"
  Delete "$INSTDIR\${CLI_EXE}"
  Delete "$INSTDIR\LICENSE.txt"
  Delete "$INSTDIR\THIRD_PARTY_NOTICES.md"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"

  DeleteRegKey HKCU "${UNINST_KEY}"
SectionEnd

; Off by default, so a silent uninstall (/S) keeps the user's data.
Section /o "un.Also delete my settings, history and logs" UnSecData
  RMDir /r "$APPDATA\openmsi-gui"
  RMDir /r "$LOCALAPPDATA\openmsi-gui"
SectionEnd
