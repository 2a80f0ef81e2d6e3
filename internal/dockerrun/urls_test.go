package dockerrun

import "testing"

// A container's URLs come from the ports and bind address modelhub chose,
// never from a label an image planted.
func TestContainerURLs_notFromLabels(t *testing.T) {
	planted := map[string]string{
		LabelAPIURL:      "http://evil.example/phish",
		LabelNotebookURL: "http://evil.example/login?token=0123456789abcdef0123456789abcdef",
	}
	ports := []Port{{Container: 80, Host: 8001}, {Container: 8080, Host: 8889}}
	for _, tc := range []struct {
		name          string
		ct            Container
		lbl           map[string]string
		api, notebook string
	}{
		{"api mode, planted labels", Container{Mode: ModeAPI, HostIP: "127.0.0.1", Ports: ports}, planted, "http://127.0.0.1:8001", ""},
		{"expert: token kept, host and path ours", Container{Mode: ModeExpert, HostIP: "0.0.0.0", Ports: ports}, planted, "",
			"http://127.0.0.1:8889/notebooks/sandbox.ipynb?token=0123456789abcdef0123456789abcdef"},
		{"expert: a token that is not hex", Container{Mode: ModeExpert, HostIP: "127.0.0.1", Ports: ports},
			map[string]string{LabelNotebookURL: "http://127.0.0.1:8889/?token=abc%22%3E%3Cscript%3E0123456789"}, "", ""},
		{"expert: injected query", Container{Mode: ModeExpert, HostIP: "127.0.0.1", Ports: ports},
			map[string]string{LabelNotebookURL: "http://x/?token=0123456789abcdef&next=http://evil"}, "",
			"http://127.0.0.1:8889/notebooks/sandbox.ipynb?token=0123456789abcdef"},
		{"bash mode", Container{Mode: ModeBash, HostIP: "::1", Ports: ports}, planted, "http://[::1]:8001", ""},
		{"no ports published", Container{Mode: ModeAPI, HostIP: "127.0.0.1"}, planted, "", ""},
		{"no labels", Container{Mode: ModeExpert, HostIP: "127.0.0.1", Ports: ports}, nil, "", ""},
	} {
		api, nb := containerURLs(tc.ct, tc.lbl, false)
		if api != tc.api || nb != tc.notebook {
			t.Errorf("%s: urls %q, %q; want %q, %q", tc.name, api, nb, tc.api, tc.notebook)
		}
	}
}

// On an ssh engine the URLs answer through local forwards whose ports only
// the labels record: only the port number is taken from them.
func TestContainerURLs_sshEngine(t *testing.T) {
	ports := []Port{{Container: 80, Host: 32768}, {Container: 8080, Host: 32769}}
	for _, tc := range []struct {
		ct            Container
		lbl           map[string]string
		api, notebook string
	}{
		{Container{Mode: ModeAPI, HostIP: "127.0.0.1", Ports: ports}, map[string]string{LabelAPIURL: "http://127.0.0.1:8000"}, "http://127.0.0.1:8000", ""},
		{Container{Mode: ModeAPI, HostIP: "127.0.0.1", Ports: ports}, map[string]string{LabelAPIURL: "http://evil.example:8000/phish"}, "http://127.0.0.1:8000", ""},
		{Container{Mode: ModeAPI, HostIP: "127.0.0.1", Ports: ports}, map[string]string{LabelAPIURL: "http://evil.example/"}, "", ""},
		{Container{Mode: ModeExpert, HostIP: "127.0.0.1", Ports: ports}, map[string]string{LabelNotebookURL: "http://evil.example:8888/x?token=0123456789abcdef"}, "",
			"http://127.0.0.1:8888/notebooks/sandbox.ipynb?token=0123456789abcdef"},
	} {
		api, nb := containerURLs(tc.ct, tc.lbl, true)
		if api != tc.api || nb != tc.notebook {
			t.Errorf("%v: urls %q, %q; want %q, %q", tc.lbl, api, nb, tc.api, tc.notebook)
		}
	}
}

// Every label modelhub reads is set on the container, empty when it does not
// apply, so the image's label of that key cannot show through.
func TestContainerConfig_labelsAlwaysSet(t *testing.T) {
	s := baseSpec()
	s.Mode, s.APIURL, s.NotebookURL, s.GPU, s.GPUs = ModeAPI, "", "", false, ""
	cfg, _, _, err := containerConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{LabelModel, LabelMode, LabelAPIURL, LabelNotebookURL, LabelGPUs} {
		if _, ok := cfg.Labels[k]; !ok {
			t.Errorf("label %s is not set: an image's own would show through", k)
		}
	}
}
