/* standin.h -- what the request handlers share: the settings and the
 * table of issued codes. One per process, owned by main(). */
#ifndef STANDIN_STANDIN_H
#define STANDIN_STANDIN_H

#include "codes.h"
#include "settings.h"

struct standin {
    const struct settings *cfg;
    struct codes *codes;
};

#endif
