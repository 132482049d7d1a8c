# SD-card image targets, included by the top-level Makefile. They use the host's python3 and
# Debian tools only (no venv). The build needs root: mmdebstrap, chroot and binfmt_misc.
LEDGRAB_IMAGE_VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' ledgrab/__init__.py)
LEDGRAB_IMAGE_OUT := image/out
LEDGRAB_IMAGE_ARM64 := $(LEDGRAB_IMAGE_OUT)/ledgrab-$(LEDGRAB_IMAGE_VERSION)-arm64.img
LEDGRAB_IMAGE_AMD64 := $(LEDGRAB_IMAGE_OUT)/ledgrab-$(LEDGRAB_IMAGE_VERSION)-amd64.img

.PHONY: image image-amd64 image-smoke image-boot-virt image-boot-raspi3b image-lock image-clean \
	image-host-deps

# Installs the build and boot tools that are missing (apt-get), and nothing when all are there.
image-host-deps:
	image/host-deps.sh

# The Pi image: Raspberry Pi 3, 4, 400 and Zero 2 W (arm64).
image: image-host-deps
	image/build.sh arm64

# The same recipe for amd64, quick to build and to boot under emulation.
image-amd64: image-host-deps
	image/build.sh amd64

# Builds and boots the amd64 image; passes when /health answers and ledgrab.txt was applied.
image-smoke: image-amd64
	python3 image/boottest.py amd64 $(LEDGRAB_IMAGE_AMD64) --console-log $(LEDGRAB_IMAGE_OUT)/boot-amd64.log

# Boots the built arm64 image: -M virt up to /health, -M raspi3b up to ledgrab.service started.
image-boot-virt: image-host-deps
	python3 image/boottest.py virt $(LEDGRAB_IMAGE_ARM64) --console-log $(LEDGRAB_IMAGE_OUT)/boot-virt.log

image-boot-raspi3b: image-host-deps
	python3 image/boottest.py raspi3b $(LEDGRAB_IMAGE_ARM64) --timeout 1800 --console-log $(LEDGRAB_IMAGE_OUT)/boot-raspi3b.log

# Records the Debian package versions of the last builds; later builds pin to them.
image-lock:
	cp $(LEDGRAB_IMAGE_OUT)/ledgrab-$(LEDGRAB_IMAGE_VERSION)-arm64.packages image/debian-arm64.lock
	cp $(LEDGRAB_IMAGE_OUT)/ledgrab-$(LEDGRAB_IMAGE_VERSION)-amd64.packages image/debian-amd64.lock
	grep '==' $(LEDGRAB_IMAGE_OUT)/ledgrab-$(LEDGRAB_IMAGE_VERSION)-arm64.python \
		| grep -v -e '^pip==' -e '^setuptools==' -e '^ledgrab==' > image/pip-constraints.txt

image-clean:
	rm -rf image/build image/out
