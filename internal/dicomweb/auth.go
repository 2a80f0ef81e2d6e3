package dicomweb

// ResolveAuth picks the credentials: the environment's (MODELHUB_PACS_TOKEN,
// or MODELHUB_PACS_USER and MODELHUB_PACS_PASSWORD) win over the settings
// file's pacs.token, pacs.user and pacs.password (settings names the file,
// for messages). getenv is os.Getenv in the program.
func ResolveAuth(getenv func(string) string, user, password, token, settings string) Auth {
	if t := getenv(EnvToken); t != "" {
		return Auth{Token: t, From: EnvToken}
	}
	if u, p := getenv(EnvUser), getenv(EnvPassword); u != "" || p != "" {
		return Auth{User: u, Password: p, From: EnvUser + " and " + EnvPassword}
	}
	in := " in " + settings
	if token != "" {
		return Auth{Token: token, From: "pacs.token" + in}
	}
	if user != "" || password != "" {
		return Auth{User: user, Password: password, From: "pacs.user and pacs.password" + in}
	}
	return Auth{}
}
