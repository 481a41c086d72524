// Perch CA certificate
static const char PERCH_CA_CERT[] = "";
