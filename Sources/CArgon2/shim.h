#ifndef TESSERA_CARGON2_SHIM_H
#define TESSERA_CARGON2_SHIM_H
#include <argon2.h>
#endif
