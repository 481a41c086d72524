// Perch CA certificate
static const char PERCH_CA_CERT[] =
"-----BEGIN X-----\n"
"\"q\\\077\n"
"-----END X-----\n";
