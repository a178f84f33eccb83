// libidn2: internationalised domain names to their ASCII (punycode) form, per IDNA2008 with TR46.
#ifndef DONUTWORK_CIDN2_SHIM_H
#define DONUTWORK_CIDN2_SHIM_H

#include <stdlib.h>
#include <idn2.h>

#endif
