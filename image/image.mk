# SD-card image targets, included by the top-level Makefile. They use the host's python3 and
# Debian tools only (no venv). The build needs root: mmdebstrap, chroot and binfmt_misc.
LEDGRAB_IMAGE_VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' ledgrab/__init__.py)
LEDGRAB_IMAGE_OUT := image/out
LEDGRAB_IMAGE_ARM64 := $(LEDGRAB_IMAGE_OUT)/ledgrab-$(LEDGRAB_IMAGE_VERSION)-arm64.img
LEDGRAB_IMAGE_AMD64 := $(LEDGRAB_IMAGE_OUT)/ledgrab-$(LEDGRAB_IMAGE_VERSION)-amd64.img

.PHONY: image image-amd64 image-smoke image-boot-virt image-boot-raspi3b image-lock image-clean \
	image-host-deps image-previous image-upgrade-smoke image-fresh-host

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

# The previous image: the same recipe at git ref LEDGRAB_IMAGE_PREVIOUS (the last release; main by
# default), built for amd64 into image/out/previous/ (its Debian base is the cached one when equal).
LEDGRAB_IMAGE_PREVIOUS ?= main
LEDGRAB_IMAGE_PREVIOUS_OUT := $(LEDGRAB_IMAGE_OUT)/previous
image-previous: image-host-deps
	rm -rf image/build/previous-src $(LEDGRAB_IMAGE_PREVIOUS_OUT)
	mkdir -p image/build/previous-src
	git archive $(LEDGRAB_IMAGE_PREVIOUS) | tar -x -C image/build/previous-src
	LEDGRAB_IMAGE_BUILD=$(CURDIR)/image/build LEDGRAB_IMAGE_OUT=$(CURDIR)/$(LEDGRAB_IMAGE_PREVIOUS_OUT) \
		image/build/previous-src/image/build.sh amd64

# Boots the new amd64 image on the data partition the previous image made and filled; passes when
# entities, keys, settings and the whole activity log (its chain verified) are all still there.
image-upgrade-smoke: image-amd64 image-previous
	python3 image/upgradetest.py $(LEDGRAB_IMAGE_PREVIOUS_OUT)/ledgrab-*-amd64.img \
		$(LEDGRAB_IMAGE_AMD64) --console-log $(LEDGRAB_IMAGE_OUT)/upgrade-amd64.log

# Proves the recipe on a fresh Debian 12 host: a minimal root made here, only host-deps.sh run in
# it, then `make $(FRESH_HOST_TARGETS)` (image/fresh-host.sh; the root stays in image/build/fresh-host).
FRESH_HOST_TARGETS ?= image image-boot-virt
image-fresh-host:
	image/fresh-host.sh $(FRESH_HOST_TARGETS)

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
