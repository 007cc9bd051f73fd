import { Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ImageGrants, grantCredsSpec, grantLocation } from './grants';
import { IBindableImageName, IImageName, ImageDirection, ImageNameBindOptions, ImageNameConfig } from './image-name';
import { locateImage } from './image-uri';

/**
 * Binds an image to a deployment: the image grants its own permissions when it can
 * (`IBindableImageName.bind`); a user's own `IImageName` without `bind` gets what its uri and creds name.
 */
export function bindImage(scope: Construct, image: IImageName, options: ImageNameBindOptions): ImageNameConfig {
  const bindable = image as Partial<IBindableImageName>;
  if (typeof bindable.bind === 'function') {
    return bindable.bind(scope, options);
  }
  return bindPlainUri(scope, image.uri, image.creds, options);
}

/** The fallback for an image known only by its uri string: the uri is parsed once, here. */
function bindPlainUri(scope: Construct, uri: string, creds: string | undefined, options: ImageNameBindOptions): ImageNameConfig {
  const grants = new ImageGrants(Stack.of(scope), options.handlerRole);
  const destination = options.direction === ImageDirection.DESTINATION;
  grantLocation(grants, locateImage(uri), destination, destination && (options.deleteOnDestroy ?? false));
  grantCredsSpec(grants, creds);
  return { uri, creds };
}
