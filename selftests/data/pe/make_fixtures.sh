#!/bin/sh
# Rebuilds the three tiny real PE modules here (3.5 KB each, x86-64), once, by hand:
# each is linked by GNU ld against an import library for one Python DLL and calls what a
# module compiled for that build calls. Needs clang (any recent; 19 used) and Debian's
# binutils-mingw-w64-x86-64 (x86_64-w64-mingw32-dlltool, -ld). Tests never run this.
set -eu
build() {  # build DLL-STEM SYMBOL...
    dll=$1; shift
    tmp=$(mktemp -d)
    { echo "LIBRARY $dll.dll"; echo EXPORTS; for s in PyModule_Create2 "$@"; do echo "  $s"; done; } > "$tmp/$dll.def"
    x86_64-w64-mingw32-dlltool -d "$tmp/$dll.def" -l "$tmp/lib$dll.a"
    { for s in PyModule_Create2 "$@"; do echo "extern void $s(void *);"; done
      echo "int DllMain(void *h, unsigned r, void *p) { return 1; }"
      echo "__declspec(dllexport) void *PyInit_m(void) { PyModule_Create2(0);"
      for s in "$@"; do echo "  $s(0);"; done
      echo "  return 0; }"; } > "$tmp/m.c"
    ${CLANG:-clang} -target x86_64-w64-windows-gnu -O1 -c "$tmp/m.c" -o "$tmp/m.o"
    x86_64-w64-mingw32-ld -shared -s -e DllMain -o "m_$dll.pyd" "$tmp/m.o" "$tmp/lib$dll.a"
    rm -r "$tmp"
}
build python314t _Py_DecRefShared _Py_MergeZeroLocalRefcount   # free-threaded 3.14
build python314 _Py_Dealloc                                     # GIL 3.14
build python3 _Py_Dealloc                                       # GIL, limited API (CFFI on Windows)
